from .gazegnn_classifier import GazeGNNClassifier  # noqa: F401
