from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = None

@test_case(points=1, hidden=False)
def test_q6_checkpoint_file():
    import inspect
    import torch
    import cnnkit.models
    from cnnkit import checks
    blob = torch.load('cnn_checkpoint.pt', map_location='cpu', weights_only=True)
    checks.true('a dict with a state_dict', isinstance(blob, dict) and 'state_dict' in blob, 'cnn_checkpoint.pt has no state_dict (save it with save_model)')
    config = blob.get('config')
    checks.true('a build_cnn config', isinstance(config, dict), 'cnn_checkpoint.pt has no config dict')
    try:
        inspect.signature(cnnkit.models.build_cnn).bind(**config)
        ok = True
    except TypeError:
        ok = False
    checks.true('config keys are build_cnn arguments', ok, 'the saved config has keys build_cnn does not take')

