"""Test and benchmark scaffolding: tiny models built in code, fault injection and the small-film harness,
local S3 servers (moto, Ceph RGW, s3rver), a flaky S3 proxy and a fake Messages API.

The product never imports this package; the tests and benchmarks do (benchmarks never import ``tests``).
"""
