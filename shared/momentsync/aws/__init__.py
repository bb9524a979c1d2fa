"""AWS adapters: every class that talks to DynamoDB, SQS, SNS, SES or Secrets Manager, each implementing
a port of ``momentsync.ports``."""
