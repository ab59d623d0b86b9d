from .pretrained_backbone import PretrainedBackbone  # noqa: F401
