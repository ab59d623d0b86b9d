from .checkpoint import install_safe_globals  # noqa: F401

install_safe_globals()  # mmengine checkpoints load under torch's weights_only
