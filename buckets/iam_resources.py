"""What an S3 call does, as IAM names it: (action, resource ARN) pairs for
execution policies (awsapi.principals.authorize). Source: the Service
Authorization Reference, "Actions defined by Amazon S3": bucket ARNs are
`arn:aws:s3:::<bucket>`, object ARNs `arn:aws:s3:::<bucket>/<key>`;
HeadObject is s3:GetObject, ListObjectsV2 and HeadBucket s3:ListBucket,
ListBuckets s3:ListAllMyBuckets, the multipart steps s3:PutObject,
CopyObject and UploadPartCopy s3:PutObject on the copy and s3:GetObject on
its source."""

from __future__ import annotations

from urllib.parse import unquote

# Operation -> (IAM action, "bucket" | "object" | "*").
ACTIONS = {
    "ListBuckets": ("ListAllMyBuckets", "*"),
    "CreateBucket": ("CreateBucket", "bucket"),
    "DeleteBucket": ("DeleteBucket", "bucket"),
    "HeadBucket": ("ListBucket", "bucket"),
    "GetBucketLocation": ("GetBucketLocation", "bucket"),
    "ListObjects": ("ListBucket", "bucket"),
    "ListObjectsV2": ("ListBucket", "bucket"),
    "GetBucketNotificationConfiguration": ("GetBucketNotification", "bucket"),
    "PutBucketNotificationConfiguration": ("PutBucketNotification", "bucket"),
    "GetObject": ("GetObject", "object"),
    "HeadObject": ("GetObject", "object"),
    "PutObject": ("PutObject", "object"),
    "DeleteObject": ("DeleteObject", "object"),
    "CreateMultipartUpload": ("PutObject", "object"),
    "UploadPart": ("PutObject", "object"),
    "CompleteMultipartUpload": ("PutObject", "object"),
    "AbortMultipartUpload": ("AbortMultipartUpload", "object"),
    "ListParts": ("ListMultipartUploadParts", "object"),
    "GetObjectAcl": ("GetObjectAcl", "object"),
    "GetObjectTagging": ("GetObjectTagging", "object"),
}


def bucket_arn(bucket: str) -> str:
    return f"arn:aws:s3:::{bucket}"


def object_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def resolve(context, operation: str, params: dict) -> list[tuple[str, str]]:
    bucket = params.get("Bucket") or ""
    if operation == "DeleteObjects":
        keys = [o.get("Key", "") for o in (params.get("Delete") or {}).get("Objects") or []]
        calls = [("s3:DeleteObject", object_arn(bucket, k)) for k in keys]
        return calls or [("s3:DeleteObject", bucket_arn(bucket))]
    if operation in ("CopyObject", "UploadPartCopy"):
        source = unquote(str(params.get("CopySource") or "")).lstrip("/").split("?versionId=", 1)[0]
        return [
            ("s3:PutObject", object_arn(bucket, params.get("Key", ""))),
            ("s3:GetObject", f"arn:aws:s3:::{source}"),
        ]
    action, kind = ACTIONS.get(operation, (operation, "bucket" if bucket else "*"))
    if kind == "object":
        return [(f"s3:{action}", object_arn(bucket, params.get("Key", "")))]
    return [(f"s3:{action}", bucket_arn(bucket) if kind == "bucket" else "*")]
