#!/usr/bin/python3
"""grpc.health.v1.Health through server reflection, as grpcurl and `buf curl`
call it: an outside client (Python grpcio) with no health.proto in hand asks
chat-core's reflection service for the service, builds the request and
response types from the descriptors it is sent, and calls Check. Before the
fix reflection knew the service's name but not its descriptor ("failed to
find service named grpc.health.v1.Health in schema"). Run by CTest:

  /usr/bin/python3 health_reflection_test.py --build-dir BUILD --reflection-py DIR

DIR holds reflection_pb2.py, generated from Debian's grpc-proto (the
reflection protocol itself is what such a client carries, as grpcurl does).
"""
import argparse
import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stack import Process, root_flags  # noqa: E402

ARGS = None


class HealthThroughReflection(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        binary = os.path.join(ARGS.build_dir, "chat-core/chat-core")
        cls.core = Process([binary, "--listen=127.0.0.1:0", "--db=:memory:", *root_flags(binary)])
        try:
            cls.addr = cls.core.wait_line("chat-core listening on ")
        except BaseException:
            cls.core.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.core.stop()

    def reflect(self, *requests):
        import grpc
        import reflection_pb2 as r
        with grpc.insecure_channel(self.addr) as channel:
            info = channel.stream_stream("/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                                         request_serializer=r.ServerReflectionRequest.SerializeToString,
                                         response_deserializer=r.ServerReflectionResponse.FromString)
            return list(info(iter(requests), timeout=10))

    def health_types(self):
        """Check's method descriptor, and its request and response classes,
        from what reflection sends (and nothing else)."""
        import reflection_pb2 as r
        from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
        (answer,) = self.reflect(r.ServerReflectionRequest(file_containing_symbol="grpc.health.v1.Health"))
        self.assertEqual(answer.WhichOneof("message_response"), "file_descriptor_response",
                         answer.error_response.error_message)
        pool = descriptor_pool.DescriptorPool()
        names = []
        for raw in answer.file_descriptor_response.file_descriptor_proto:
            fd = descriptor_pb2.FileDescriptorProto.FromString(raw)
            names.append(fd.name)
            pool.Add(fd)
        self.assertIn("grpc/health/v1/health.proto", names)
        check = pool.FindServiceByName("grpc.health.v1.Health").methods_by_name["Check"]
        factory = message_factory.MessageFactory(pool)
        return check, factory.GetPrototype(check.input_type), factory.GetPrototype(check.output_type)

    def call_check(self, service):
        import grpc
        check, request, response = self.health_types()
        with grpc.insecure_channel(self.addr) as channel:
            call = channel.unary_unary("/grpc.health.v1.Health/Check", request_serializer=request.SerializeToString,
                                       response_deserializer=response.FromString)
            answer = call(request(service=service), timeout=10)
        status = check.output_type.fields_by_name["status"].enum_type.values_by_number[answer.status].name
        return status

    def test_reflection_lists_the_health_service(self):
        import reflection_pb2 as r
        (answer,) = self.reflect(r.ServerReflectionRequest(list_services=""))
        services = [s.name for s in answer.list_services_response.service]
        self.assertIn("grpc.health.v1.Health", services)
        self.assertIn("chat.v1.ChatService", services)

    def test_check_through_reflection_says_serving(self):
        # The whole server (""), as load balancers and grpcurl's example ask.
        self.assertEqual(self.call_check(""), "SERVING")

    def test_unknown_service_is_not_found(self):
        import grpc
        with self.assertRaises(grpc.RpcError) as unknown:
            self.call_check("no.such.Service")
        self.assertEqual(unknown.exception.code(), grpc.StatusCode.NOT_FOUND)

    def test_every_chat_service_resolves_too(self):
        import reflection_pb2 as r
        answers = self.reflect(*[r.ServerReflectionRequest(file_containing_symbol=s)
                                 for s in ("chat.v1.ChatService", "chat.v1.AuthService", "grpc.health.v1.Health")])
        for a in answers:
            self.assertEqual(a.WhichOneof("message_response"), "file_descriptor_response",
                             a.error_response.error_message)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", required=True)
    parser.add_argument("--reflection-py", required=True)
    ARGS, rest = parser.parse_known_args()
    sys.path.insert(0, ARGS.reflection_py)
    unittest.main(argv=[sys.argv[0]] + rest, verbosity=2)
