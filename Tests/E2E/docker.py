def run_caller(ctx, runtimes):
    raise NotImplementedError('docker')
