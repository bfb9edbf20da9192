"""Fault localization and repair of model conversions (issue 9).

Four stages, after Louloudakis et al. but aligned by structure and values instead of layer order:
conversion settings (:mod:`.settings`), parameters (:mod:`.parameters`), hyper-parameters
(:mod:`.hyperparams`) and the graph (:mod:`.graph_trace` + :mod:`.align`: first divergent node).
:mod:`.reproducer` cuts the failing node out as a standalone ONNX file, :mod:`.repair` applies
the fixes the stages suggest and verifies them, :mod:`.report` writes Markdown, JSON and a figure.
:mod:`.pipeline` runs the stages on one (source model, ONNX model) pair, :mod:`.inputs` finds
that pair (a campaign record or saved files), :mod:`.runs` localizes or repairs one case into its
report folder. The evidence: :mod:`.inject` + :mod:`.evaluate` (fault injection) and
:mod:`.known_faults` (real differences). :mod:`.cli` holds the commands and nothing else.
"""
