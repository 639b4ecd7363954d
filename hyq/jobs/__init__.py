"""Jobs: what ``hyq run``, ``hyq build``, ``hyq quantize`` and ``hyq sim`` do, end to end.

A job reads a flow file (:mod:`hyq.config`), loads data, trains or quantizes a model, exports
it, builds it with FINN, simulates it and writes the report, by calling the stages below it
(models -> quantize -> export -> dataflow -> sim -> report) in order. The stages know nothing
of flow files or report folders; only jobs (and above them ``explore`` and ``cli``) do.
"""
