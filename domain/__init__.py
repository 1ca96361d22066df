"""The pure mail server registry model: values, rules and decisions. No I/O."""
