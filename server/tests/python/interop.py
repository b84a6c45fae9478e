"""Interop check with a client nobody here wrote: Python grpcio.

Compiles ../../../proto with grpcio-tools into a temp dir, then against the
server at argv[1] (host:port): create -> upsert -> search -> delete, and
lists the services through server reflection (grpc.reflection.v1). Exits
non-zero with a message on the first mismatch.
"""
import os
import sys
import tempfile

import grpc
from grpc_tools import protoc

PROTO_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "proto")


def compile_protos(out):
    files = [f"waypoint/v1/{n}.proto" for n in ("common", "collections", "points")]
    include = os.path.join(os.path.dirname(protoc.__file__), "_proto")
    rc = protoc.main(["protoc", f"-I{PROTO_ROOT}", f"-I{include}", f"--python_out={out}", f"--grpc_python_out={out}", *files])
    if rc != 0:
        sys.exit(f"protoc failed with {rc}")
    sys.path.insert(0, out)


def varint(buf, i):
    shift = value = 0
    while True:
        b = buf[i]
        value |= (b & 0x7F) << shift
        i += 1
        if b < 0x80:
            return value, i
        shift += 7


def fields(buf):
    """(field number, bytes) of every length-delimited field of a message."""
    i, out = 0, []
    while i < len(buf):
        key, i = varint(buf, i)
        if key & 7 == 2:
            n, i = varint(buf, i)
            out.append((key >> 3, buf[i:i + n]))
            i += n
        elif key & 7 == 0:
            _, i = varint(buf, i)
        else:
            sys.exit(f"unexpected wire type {key & 7}")
    return out


def reflection_services(channel):
    call = channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=lambda b: b,
        response_deserializer=lambda b: b,
    )
    # ServerReflectionRequest { list_services (7) = "" }
    (response,) = list(call(iter([b"\x3a\x00"]), timeout=10))
    listing = [v for f, v in fields(response) if f == 6][0]  # list_services_response
    return sorted(dict(fields(s))[1].decode() for f, s in fields(listing) if f == 1)


def main():
    addr = sys.argv[1]
    with tempfile.TemporaryDirectory() as out:
        compile_protos(out)
        from waypoint.v1 import collections_pb2 as c_pb, collections_pb2_grpc as c_grpc
        from waypoint.v1 import common_pb2 as common, points_pb2 as p_pb, points_pb2_grpc as p_grpc

        channel = grpc.insecure_channel(addr)
        collections = c_grpc.CollectionsStub(channel)
        points = p_grpc.PointsStub(channel)
        info = collections.Create(c_pb.CreateCollectionRequest(name="py", dim=3, metric=common.METRIC_L2), timeout=10).info
        assert info.config.dim == 3 and info.config.m == 16, info
        pts = [p_pb.Point(id=i, vector=[float(i), 0.0, 1.0], payload=common.Payload(fields={"tag": common.Value(keyword="even" if i % 2 == 0 else "odd")})) for i in range(20)]
        assert points.Upsert(p_pb.UpsertRequest(collection="py", points=pts), timeout=10).upserted == 20
        even = common.Filter(must=[common.Condition(match=common.Match(key="tag", keyword="even"))])
        hits = points.Search(p_pb.SearchRequest(collection="py", vector=[4.2, 0.0, 1.0], k=3, exact=True, filter=even, with_payload=True), timeout=10).hits
        assert [h.id for h in hits] == [4, 6, 2], hits
        assert abs(hits[0].distance - 0.04) < 1e-5 and hits[0].payload.fields["tag"].keyword == "even", hits[0]
        assert points.Delete(p_pb.DeletePointsRequest(collection="py", ids=p_pb.PointIds(ids=[4])), timeout=10).deleted == 1
        hits = points.Search(p_pb.SearchRequest(collection="py", vector=[4.2, 0.0, 1.0], k=1, exact=True), timeout=10).hits
        assert hits[0].id == 5, hits
        try:
            collections.Get(c_pb.GetCollectionRequest(name="../etc"), timeout=10)
            sys.exit("a bad name was accepted")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.INVALID_ARGUMENT, e
        collections.Delete(c_pb.DeleteCollectionRequest(name="py"), timeout=10)
        services = reflection_services(channel)
        for s in ("grpc.health.v1.Health", "waypoint.v1.Collections", "waypoint.v1.Points"):
            assert s in services, services
        print("python interop ok:", ", ".join(services))


if __name__ == "__main__":
    main()
