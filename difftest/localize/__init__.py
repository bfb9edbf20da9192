"""Fault localization and repair of model conversions (issue 9).

Four stages, after Louloudakis et al. but aligned by structure and values instead of layer order:
conversion settings (:mod:`.settings`), parameters (:mod:`.parameters`), hyper-parameters
(:mod:`.hyperparams`) and the graph (:mod:`.graph_trace` + :mod:`.align`: first divergent node).
:mod:`.conversion_path` runs stage 1 along a conversion path of the matrix (which hop introduces
the difference). :mod:`.reproducer` cuts the failing node out as a standalone ONNX file,
:mod:`.repair` applies the fixes the stages suggest (:mod:`.repair_candidates`), verifies them
and records targeted repairs apart from re-conversions (:mod:`.repair_record`;
:mod:`.source_ops` checks its claims about the source's operators),
:mod:`.report` writes Markdown, JSON and a figure.
:mod:`.pipeline` runs the stages on one (source model, ONNX model) pair, :mod:`.inputs` finds
that pair (a campaign record or saved files), :mod:`.runs` localizes or repairs one case into its
report folder. The evidence: :mod:`.inject` + :mod:`.evaluate` (fault injection) and
:mod:`.known_faults` (real differences). :mod:`.cli` holds the commands and nothing else.
"""
