"""What a fault is and how it is judged: fault specs, edits, manifests, roles, checks, the rehearsal."""
