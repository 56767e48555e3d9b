"""Shared outbound notifications: a queue of messages about any object, delivered through pluggable
channels (log, e-mail, SMS and WeCom gateways) with retries. Below every domain that notifies; imports no
domain app."""
