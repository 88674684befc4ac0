"""Who acts for which tenant: tenants and their keys, users, identity acts, access
scopes, console sessions, single sign-on, authenticator codes and rate limits.
"""
