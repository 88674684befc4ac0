"""Cases: their record and timeline, routing to queues, assignment, SLA timers,
impact, incidents, recurrence and jeopardy.

Below decide/ and workflow/: it knows detectors' verdicts and the meter, never who
decides or what runs the desk (the layers in pyproject.toml's [tool.importlinter]).
"""
