"""Support charities: staff roles, invitations, second factors and hand-off links."""
