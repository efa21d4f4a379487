// fuzz_json_codec: the hand-written JSON paths (proto/src/json_decode.cc,
// json_encode.cc) against protobuf's own JSON library, differentially.
//
// What the codec promises (chat/json_codec.h), and what this checks for every input:
//  1. Decoding. Whatever DecodeClientEventFastPath accepts, JsonStringToMessage
//     (ignore_unknown_fields = false, as FromJson) accepts too, with the same
//     message (same serialized bytes).
//  2. Rejection. The fast path never rejects on its own: it defers anything it is
//     not sure of to the library. So DecodeClientEvent fails exactly when the
//     library fails (no stricter rule exists today; a future one must be listed
//     here and in docs/testing.md), and when it succeeds its result is the
//     library's.
//  3. Round trip. An accepted ClientEvent printed by ToJson parses back (fast
//     path or library) to the same message.
//  4. Encoding. For every ServerEvent we can make from the input (the input read
//     as JSON, as binary protobuf, and as the raw bytes of a message's text),
//     EncodeServerEventFastPath, when it takes the event, prints exactly
//     MessageToJsonString's bytes; EncodeServerEvent's output parses back to the
//     event; and JsonQuote of valid UTF-8 is the library's string literal.
// Any difference is a crash (abort), with both sides printed.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "chat/json_codec.h"
#include "chat/v1/chat.pb.h"
#include "chat/validate.h"
#include "google/protobuf/util/json_util.h"

namespace {

using chat::v1::ClientEvent;
using chat::v1::ServerEvent;

[[noreturn]] void Mismatch(const char* what, absl::string_view input, const std::string& a, const std::string& b) {
  std::fprintf(stderr, "fuzz_json_codec: %s\n input: %.*s\n ours:    %s\n library: %s\n", what,
               static_cast<int>(input.size()), input.data(), a.c_str(), b.c_str());
  std::abort();
}

std::string Bytes(const google::protobuf::Message& m) {
  std::string out;
  m.SerializeToString(&out);  // deterministic enough here: no maps in these messages
  return out;
}

bool LibraryParse(absl::string_view json, google::protobuf::Message* m) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  return google::protobuf::util::JsonStringToMessage(google::protobuf::StringPiece(json.data(), json.size()), m,
                                                     options)
      .ok();
}

bool LibraryPrint(const google::protobuf::Message& m, std::string* out) {
  google::protobuf::util::JsonPrintOptions options;  // ToJson's options
  options.add_whitespace = false;
  options.always_print_primitive_fields = false;
  options.preserve_proto_field_names = false;
  out->clear();
  return google::protobuf::util::MessageToJsonString(m, out, options).ok();
}

bool ValidUtf8(absl::string_view s) {
  for (size_t i = 0; i < s.size();) {
    uint32_t cp;
    int len = chat::DecodeUtf8(s, i, &cp);
    if (len == 0) return false;
    i += static_cast<size_t>(len);
  }
  return true;
}

// Are all string fields of `m` (nested ones too) valid UTF-8? protobuf's JSON
// printer drops the bytes of a string that is not, so only such events can
// round-trip. (chat-core never makes one: chat/validate.h refuses bad UTF-8 at
// the door.)
bool AllStringsUtf8(const google::protobuf::Message& m) {
  const google::protobuf::Reflection* r = m.GetReflection();
  std::vector<const google::protobuf::FieldDescriptor*> fields;
  r->ListFields(m, &fields);
  for (const auto* f : fields) {
    const bool repeated = f->is_repeated();
    const int n = repeated ? r->FieldSize(m, f) : 1;
    for (int i = 0; i < n; ++i) {
      if (f->type() == google::protobuf::FieldDescriptor::TYPE_STRING) {
        if (!ValidUtf8(repeated ? r->GetRepeatedString(m, f, i) : r->GetString(m, f))) return false;
      } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_MESSAGE) {
        if (!AllStringsUtf8(repeated ? r->GetRepeatedMessage(m, f, i) : r->GetMessage(m, f))) return false;
      }
    }
  }
  return true;
}

void CheckDecode(absl::string_view input) {
  ClientEvent fast;
  const bool fast_ok = chat::DecodeClientEventFastPath(input, &fast);
  ClientEvent lib;
  const bool lib_ok = LibraryParse(input, &lib);
  if (fast_ok && !lib_ok) Mismatch("fast path accepted what the library rejects", input, fast.ShortDebugString(), "");
  if (fast_ok && Bytes(fast) != Bytes(lib)) {
    Mismatch("fast path decoded differently", input, fast.ShortDebugString(), lib.ShortDebugString());
  }
  auto decoded = chat::DecodeClientEvent(input);
  if (decoded.ok() != lib_ok) {
    Mismatch("DecodeClientEvent and the library disagree on acceptance", input,
             decoded.ok() ? decoded->ShortDebugString() : std::string(decoded.status().message()),
             lib_ok ? lib.ShortDebugString() : "rejected");
  }
  if (!lib_ok) return;
  if (Bytes(*decoded) != Bytes(lib)) {
    Mismatch("DecodeClientEvent decoded differently", input, decoded->ShortDebugString(), lib.ShortDebugString());
  }
  // Round trip of the canonical form.
  const std::string canonical = chat::ToJson(lib);
  auto again = chat::DecodeClientEvent(canonical);
  if (!again.ok() || Bytes(*again) != Bytes(lib)) {
    Mismatch("canonical JSON does not decode back", canonical,
             again.ok() ? again->ShortDebugString() : std::string(again.status().message()), lib.ShortDebugString());
  }
}

void CheckEncode(const ServerEvent& event, absl::string_view input) {
  std::string fast;
  std::string lib;
  const bool lib_ok = LibraryPrint(event, &lib);
  if (chat::EncodeServerEventFastPath(event, &fast)) {
    if (!lib_ok) Mismatch("fast encoder took an event the library cannot print", input, fast, "");
    if (fast != lib) Mismatch("fast encoder printed differently", input, fast, lib);
  }
  const std::string out = chat::EncodeServerEvent(event);
  if (out.find('\n') != std::string::npos) Mismatch("encoded event holds a raw newline", input, out, lib);
  if (!lib_ok || !AllStringsUtf8(event)) return;
  ServerEvent back;
  ServerEvent known = event;  // JSON carries no unknown fields
  known.DiscardUnknownFields();
  if (!LibraryParse(out, &back) || Bytes(back) != Bytes(known)) {
    Mismatch("encoded event does not parse back", input, out, back.ShortDebugString());
  }
}

void CheckQuote(absl::string_view input) {
  const std::string quoted = chat::JsonQuote(input);
  ServerEvent holder;
  holder.set_ref(std::string(input));
  std::string lib;
  if (ValidUtf8(input)) {
    if (!LibraryPrint(holder, &lib)) Mismatch("library cannot print valid UTF-8", input, quoted, "");
    const std::string expected = input.empty() ? "\"\"" : lib.substr(7, lib.size() - 8);  // {"ref":X}
    if (quoted != expected) Mismatch("JsonQuote differs from the library", input, quoted, expected);
  } else {
    // Not UTF-8: byte escapes; still one JSON string without raw newlines.
    if (quoted.size() < 2 || quoted.front() != '"' || quoted.back() != '"' ||
        quoted.find('\n') != std::string::npos) {
      Mismatch("JsonQuote of bytes is not a JSON string", input, quoted, "");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  CheckDecode(input);

  // ServerEvents made from the input, for the encoder.
  ServerEvent from_json;
  if (LibraryParse(input, &from_json)) CheckEncode(from_json, input);
  ServerEvent from_binary;
  if (from_binary.ParseFromArray(data, static_cast<int>(size))) CheckEncode(from_binary, input);
  ServerEvent raw_text;  // arbitrary bytes (invalid UTF-8 too) in the hot fields
  raw_text.mutable_message()->set_text(std::string(input));
  raw_text.mutable_message()->set_room(std::string(input.substr(0, 8)));
  raw_text.mutable_message()->set_seq(static_cast<int64_t>(size));
  CheckEncode(raw_text, input);

  CheckQuote(input);
  return 0;
}
