from momentsync.webhook_secret import hash_webhook_secret, new_webhook_secret, verify_webhook_secret


def test_secret_is_long_and_random():
    secrets = {new_webhook_secret() for _ in range(100)}
    assert len(secrets) == 100
    assert all(len(s) >= 43 for s in secrets)


def test_only_the_right_secret_for_the_right_tenant_verifies():
    secret = new_webhook_secret()
    stored = hash_webhook_secret("acme", secret)
    assert secret not in stored
    assert verify_webhook_secret("acme", secret, stored)
    assert not verify_webhook_secret("acme", secret + "x", stored)
    assert not verify_webhook_secret("other", secret, stored)
    assert not verify_webhook_secret("acme", secret, None)
