struct SkiffCLIPlaceholder {}
