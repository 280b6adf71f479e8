"""Facebook Messenger: webhook, envelope, limits and the Send API client."""
