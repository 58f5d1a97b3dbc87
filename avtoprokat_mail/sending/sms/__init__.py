"""SMS: segment counting (segments.py) and the gateways (gateway.py, smsru.py, smsc.py)."""
