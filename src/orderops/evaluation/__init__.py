"""Measuring the desk from the outside: a store's provider deliveries posted, signed, to a
freshly booted desk over real HTTP, and every case it ever opened scored against labels
written without the desk's code."""
