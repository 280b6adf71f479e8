"""The dialog engine: triggers, steps and templates turn an Envelope into messages. No I/O."""
