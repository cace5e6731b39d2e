"""ETL: a CSV lands in the source bucket; S3 notifies this function, which
reads it with boto3, upper-cases the `name` column and adds a `total`
column (qty * price), and writes the result to the bucket named by the
OUTPUT_BUCKET variable under the same key.

Execution policy: s3:GetObject on the source bucket's objects, s3:PutObject
on the output bucket's (see policy.json)."""

import csv
import io
import os
from urllib.parse import unquote_plus

import boto3

s3 = boto3.client("s3")  # AWS_ENDPOINT_URL and the function's own credentials


def handler(event, context):
    written = []
    for record in event["Records"]:
        bucket = record["s3"]["bucket"]["name"]
        key = unquote_plus(record["s3"]["object"]["key"])
        text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        rows = list(csv.DictReader(io.StringIO(text)))
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=["name", "qty", "price", "total"], lineterminator="\n")
        writer.writeheader()
        for row in rows:
            total = int(row["qty"]) * float(row["price"])
            writer.writerow({"name": row["name"].upper(), "qty": row["qty"], "price": row["price"],
                             "total": f"{total:.2f}"})
        s3.put_object(Bucket=os.environ["OUTPUT_BUCKET"], Key=key, Body=out.getvalue().encode(),
                      ContentType="text/csv")
        print(f"transformed s3://{bucket}/{key}: {len(rows)} rows")
        written.append(key)
    return {"written": written}
