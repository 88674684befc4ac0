"""The tool API for AI agents over the Model Context Protocol (issue #17 item 3).

A shell like ``api/``: tools and resources parse their arguments, hold each call to the
caller's key (``calls.py``: authenticated, the role's permission from ``domain/roles.py``,
the key's and the tenant's rate limits, an ``agent.call`` audit record), and call the same
services the REST API calls. No tool approves, releases or executes anything; a proposal
waits for people in the console (``proposals.py``). Transports: stdio
(``orderops mcp serve``) and streamable HTTP mounted on the API app at ``/mcp``
(``http.py``).
"""
