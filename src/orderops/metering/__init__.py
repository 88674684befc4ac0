"""Usage metering: what each tenant used, its allowances, reports and metrics; low
enough that ingest, evidence and writeback count their work without a cycle.
"""
