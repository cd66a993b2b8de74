"""Read models and actions for the web console (/console); routes live in api/, none here.

Every partner-facing call takes the partner id first and reads only that partner's rows; an id
of another partner is answered like an unknown one (the same NotFound error).
"""
