"""Recommendations: what to do about a case, why, what it costs, and what to tell people.

Playbooks (per tenant, YAML) name the candidate actions of each exception type; guardrails
refuse the unsafe ones; similar resolved cases and the playbook together rank the rest.
Drafted messages are checked against the case's facts before anyone may send them. Only
playbooks produce actions: a language model, when switched on, drafts text and nothing else.
"""
