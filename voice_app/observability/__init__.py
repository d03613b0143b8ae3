"""What an operator watches: metrics, health and readiness, logs."""
