"""The cross-framework conversion matrix (issue 13): convert trained image classifiers between
PyTorch, Keras/TensorFlow, TFLite and ONNX along chained paths, run each result in its runtime on
held-out images and measure how many predicted labels change.

Modules, one job each: :mod:`images` (the labelled data set), :mod:`torch_archs` and
:mod:`keras_mirror` (the three architectures on both sides), :mod:`training` (seeded training with
a weight cache), :mod:`hops` (one conversion step each, as plug-ins), :mod:`paths` (hops chained
from a source framework to a target), :mod:`runtimes`, :mod:`labels` (label metrics) and
:mod:`runner` (the resumable matrix).
"""
