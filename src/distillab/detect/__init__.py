"""Detecting distillation campaigns in request logs, and the traffic simulator that tests detectors.

`distillab.detect.simulate` writes realistic honest and campaign traffic as request-log records (the
"Request log record" table of DESIGN.md) with a separate labels file; see docs/simulate.md.
"""
