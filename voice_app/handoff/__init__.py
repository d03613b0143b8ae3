"""Hand-overs to a person: what the agent is told about each transferred call, and callback requests."""
