"""Sessions: the state machine, sequencing, acknowledgements, resume and fan-out."""
