"""The pure model of the mail server list: values, rules and decisions. No I/O."""
