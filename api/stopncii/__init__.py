"""StopNCII-compatible hash exchange (the contract of threatexchange's StopNCIIAPI)."""
