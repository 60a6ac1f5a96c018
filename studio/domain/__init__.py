"""The domain: requests, statuses, the model catalogue and the rules about them."""
