enum SkiffPlaceholder {}
