"""Execution policies (awsapi.policy) and the per-service resolvers that
name each call's IAM action and resource ARN."""

from types import SimpleNamespace

import pytest

from awsapi import policy
from buckets import iam_resources as s3_resources
from functions import lambda_resources
from messaging import iam_resources as messaging_resources

DOC = {"Version": "2012-10-17", "Statement": [
    {"Effect": "Allow", "Action": ["s3:Get*", "sqs:*"], "Resource": ["arn:aws:s3:::data/*", "*"]},
    {"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "arn:aws:sqs:*:*:keep-?"},
    {"Effect": "Allow", "Action": "sns:Publish", "Resource": "arn:aws:sns:us-east-1:111122223333:News"},
]}


@pytest.mark.parametrize("action, resource, allowed, explicit", [
    ("s3:GetObject", "arn:aws:s3:::data/a/b.csv", True, False),
    ("S3:getobject", "arn:aws:s3:::other/a", True, False),  # actions ignore case; "*" resource matched
    ("s3:PutObject", "arn:aws:s3:::data/a", False, False),
    ("sqs:DeleteQueue", "arn:aws:sqs:us-east-1:1:keep-1", False, True),
    ("sqs:DeleteQueue", "arn:aws:sqs:us-east-1:1:keep-10", True, False),  # ? is one character
    ("sns:Publish", "arn:aws:sns:us-east-1:111122223333:News", True, False),
    ("sns:Publish", "arn:aws:sns:us-east-1:111122223333:news", False, False),  # ARNs keep case
])
def test_allow_must_match_and_an_explicit_deny_wins(action, resource, allowed, explicit):
    assert policy.evaluate(DOC, action, resource) == policy.Decision(allowed, explicit)


def test_the_empty_policy_allows_nothing():
    assert policy.evaluate({}, "s3:GetObject", "*") == policy.Decision(False)
    assert policy.parse("") == {}


def test_the_message_is_aws_wording():
    decision = policy.evaluate(DOC, "s3:PutObject", "arn:aws:s3:::data/x")
    assert policy.denied_message("arn:aws:sts::1:assumed-role/r/f", "s3:PutObject", "arn:aws:s3:::data/x",
                                 decision) == (
        "User: arn:aws:sts::1:assumed-role/r/f is not authorized to perform: s3:PutObject on resource: "
        "arn:aws:s3:::data/x because no identity-based policy allows the s3:PutObject action"
    )


CONTEXT = SimpleNamespace(team=SimpleNamespace(account_id="111122223333"))


@pytest.mark.parametrize("operation, params, calls", [
    ("GetObject", {"Bucket": "b", "Key": "k/1"}, [("s3:GetObject", "arn:aws:s3:::b/k/1")]),
    ("HeadObject", {"Bucket": "b", "Key": "k"}, [("s3:GetObject", "arn:aws:s3:::b/k")]),
    ("UploadPart", {"Bucket": "b", "Key": "k"}, [("s3:PutObject", "arn:aws:s3:::b/k")]),
    ("ListObjectsV2", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
    ("ListBuckets", {}, [("s3:ListAllMyBuckets", "*")]),
    ("DeleteObjects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}, {"Key": "y"}]}},
     [("s3:DeleteObject", "arn:aws:s3:::b/x"), ("s3:DeleteObject", "arn:aws:s3:::b/y")]),
    ("CopyObject", {"Bucket": "b", "Key": "to", "CopySource": "/src/from%20here?versionId=1"},
     [("s3:PutObject", "arn:aws:s3:::b/to"), ("s3:GetObject", "arn:aws:s3:::src/from here")]),
    ("UploadPartCopy", {"Bucket": "b", "Key": "to", "CopySource": "src/big", "PartNumber": 1},
     [("s3:PutObject", "arn:aws:s3:::b/to"), ("s3:GetObject", "arn:aws:s3:::src/big")]),
    ("ListObjects", {"Bucket": "b"}, [("s3:ListBucket", "arn:aws:s3:::b")]),
])
def test_s3_names_bucket_and_object_arns(operation, params, calls):
    assert s3_resources.resolve(CONTEXT, operation, params) == calls


def test_sqs_sns_and_lambda_name_their_arns():
    queue = "arn:aws:sqs:us-east-1:111122223333:jobs"
    sqs, sns = messaging_resources.sqs, messaging_resources.sns
    assert sqs(CONTEXT, "SendMessageBatch", {"QueueUrl": "http://x/111122223333/jobs"}) == [
        ("sqs:SendMessage", queue)]
    assert sqs(CONTEXT, "GetQueueUrl", {"QueueName": "jobs"}) == [("sqs:GetQueueUrl", queue)]
    assert sqs(CONTEXT, "ListQueues", {}) == [("sqs:ListQueues", "*")]
    assert sqs(CONTEXT, "ListDeadLetterSourceQueues", {"QueueUrl": "http://x/111122223333/jobs"}) == [
        ("sqs:ListDeadLetterSourceQueues", queue)]
    topic = "arn:aws:sns:us-east-1:111122223333:news"
    assert sns(CONTEXT, "PublishBatch", {"TopicArn": topic}) == [("sns:Publish", topic)]
    assert sns(CONTEXT, "Unsubscribe", {"SubscriptionArn": topic + ":abc"}) == [
        ("sns:Unsubscribe", topic)]
    assert sns(CONTEXT, "CreateTopic", {"Name": "news"}) == [("sns:CreateTopic", topic)]
    fn = "arn:aws:lambda:us-east-1:111122223333:function:f"
    assert lambda_resources.resolve(CONTEXT, "Invoke", {"FunctionName": "f"}) == [
        ("lambda:InvokeFunction", fn)]
    assert lambda_resources.resolve(CONTEXT, "Invoke", {"FunctionName": "f:live"}) == [
        ("lambda:InvokeFunction", fn + ":live")]
    assert lambda_resources.rest_calls("GET", "/2015-03-31/functions/f/configuration", "111122223333") == [
        ("lambda:GetFunctionConfiguration", fn)]
    assert lambda_resources.rest_calls("PATCH", "/2015-03-31/functions/f", "111122223333") == []
