#include "types/json.h"

#include <set>

namespace gtos {

namespace {

constexpr std::string_view kRedacted = "<redacted>";

class JsonOutVisitor {
 public:
  static constexpr bool kDecoding = false;
  explicit JsonOutVisitor(Json& j) : j_(j) {}
  void Uint(std::string_view n, uint64_t& v, uint64_t = 0) { j_[std::string(n)] = v; }
  void Bool(std::string_view n, bool& v) { j_[std::string(n)] = v; }
  void Bin(std::string_view n, Bytes& v, size_t) { j_[std::string(n)] = ToHex0x(v); }
  void Fixed(std::string_view n, Hash32& v) { j_[std::string(n)] = ToHex0x(v); }
  void Str(std::string_view n, std::string& v, size_t) { j_[std::string(n)] = v; }
  void Enum(std::string_view n, uint64_t& v, codec::NameFn names) {
    std::string_view name = names(v);
    if (name.empty()) j_[std::string(n)] = v; else j_[std::string(n)] = name;
  }
  template <class T> void Object(std::string_view n, T& t) { j_[std::string(n)] = Of(t); }
  template <class T> void Optional(std::string_view n, std::optional<T>& t) {
    if (t) Object(n, *t); else j_[std::string(n)] = nullptr;
  }
  void TrailingUint(std::string_view n, std::optional<uint64_t>& v, uint64_t = 0) {
    if (v) j_[std::string(n)] = *v;
  }
  template <class T> void List(std::string_view n, std::vector<T>& items, size_t) {
    Json arr = Json::array();
    for (T& item : items) arr.push_back(Of(item));
    j_[std::string(n)] = std::move(arr);
  }
  template <class T> static Json Of(T& t) {
    Json j = Json::object();
    JsonOutVisitor v(j);
    t.Fields(v);
    return j;
  }

 private:
  Json& j_;
};

// Reads fields from a JSON object; the first failure sticks.
class JsonInVisitor {
 public:
  static constexpr bool kDecoding = true;
  JsonInVisitor(const Json& j, std::string path, std::optional<Error>* err)
      : j_(j), path_(std::move(path)), err_(err) {}

  void Uint(std::string_view n, uint64_t& v, uint64_t max = UINT64_MAX) {
    const Json* x = Get(n);
    if (!x) return;
    if (!x->is_number_unsigned()) return SetError(n, "expected a non-negative integer");
    v = x->get<uint64_t>();
    if (v > max) SetError(n, std::to_string(v) + " exceeds the maximum of " + std::to_string(max));
  }
  void Bool(std::string_view n, bool& v) {
    const Json* x = Get(n);
    if (!x) return;
    if (!x->is_boolean()) return SetError(n, "expected true or false");
    v = x->get<bool>();
  }
  void Bin(std::string_view n, Bytes& v, size_t max) {
    const Json* x = Get(n);
    if (!x) return;
    if (!x->is_string()) return SetError(n, "expected a \"0x...\" hex string");
    const std::string& s = x->get_ref<const std::string&>();
    if (s == kRedacted)
      return SetError(n, "value is redacted; print it with gtos-inspect --unsafe-show-secrets");
    if (!s.starts_with("0x")) return SetError(n, "expected a \"0x...\" hex string");
    auto b = FromHex(s, "hex");
    if (!b) return SetError(n, b.error().message);
    if (b->size() > max)
      return SetError(n, std::to_string(b->size()) + " bytes exceeds the maximum of " + std::to_string(max));
    v = std::move(*b);
  }
  void Fixed(std::string_view n, Hash32& v) {
    Bytes b;
    Bin(n, b, 32);
    if (Failed()) return;
    if (b.size() != 32) return SetError(n, "expected 32 bytes, got " + std::to_string(b.size()));
    std::memcpy(v.data(), b.data(), 32);
  }
  void Str(std::string_view n, std::string& v, size_t max) {
    const Json* x = Get(n);
    if (!x) return;
    if (!x->is_string()) return SetError(n, "expected a string");
    v = x->get<std::string>();
    if (v.size() > max) SetError(n, std::to_string(v.size()) + " bytes exceeds the maximum of " + std::to_string(max));
  }
  void Enum(std::string_view n, uint64_t& v, codec::NameFn names) {
    const Json* x = Get(n);
    if (!x) return;
    if (x->is_number_unsigned()) {
      v = x->get<uint64_t>();
      if (names(v).empty()) SetError(n, "unknown value " + std::to_string(v));
      return;
    }
    if (!x->is_string()) return SetError(n, "expected a name");
    const std::string& s = x->get_ref<const std::string&>();
    for (uint64_t i = 0; i < 256; ++i) {
      if (!names(i).empty() && names(i) == s) {
        v = i;
        return;
      }
    }
    SetError(n, "unknown value '" + s + "'");
  }
  template <class T> void Object(std::string_view n, T& t) {
    const Json* x = Get(n);
    if (!x) return;
    Read(*x, Sub(n), t);
  }
  template <class T> void Optional(std::string_view n, std::optional<T>& t) {
    const Json* x = Get(n);
    if (!x) return;
    if (x->is_null()) {
      t.reset();
      return;
    }
    t.emplace();
    Read(*x, Sub(n), *t);
  }
  void TrailingUint(std::string_view n, std::optional<uint64_t>& v, uint64_t max = UINT64_MAX) {
    if (!j_.contains(std::string(n))) {
      v.reset();
      return;
    }
    uint64_t x = 0;
    Uint(n, x, max);
    v = x;
  }
  template <class T> void List(std::string_view n, std::vector<T>& items, size_t max) {
    const Json* x = Get(n);
    if (!x) return;
    if (!x->is_array()) return SetError(n, "expected an array");
    if (x->size() > max) return SetError(n, "more than " + std::to_string(max) + " elements");
    items.assign(x->size(), T{});
    for (size_t i = 0; i < items.size() && !Failed(); ++i)
      Read((*x)[i], Sub(n) + "." + std::to_string(i), items[i]);
  }

  // Fails on any key that no field consumed, except the derived ones.
  void CheckUnknown(std::initializer_list<std::string_view> allowed) {
    if (Failed()) return;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (seen_.count(it.key())) continue;
      bool ok = false;
      for (auto a : allowed) ok = ok || a == it.key();
      if (!ok) return SetError(it.key(), "unknown field");
    }
  }
  bool Failed() const { return err_->has_value(); }
  void SetError(std::string_view n, std::string_view what) {
    if (!Failed()) *err_ = Error{ErrorCode::kInvalid, "field '" + Sub(n) + "': " + std::string(what)};
  }

  template <class T> static void Read(const Json& x, const std::string& path, T& t, std::optional<Error>* err) {
    JsonInVisitor v(x, path, err);
    if (!x.is_object()) return v.SetError("", "expected an object");
    t.Fields(v);
    v.CheckUnknown({});
  }

 private:
  template <class T> void Read(const Json& x, const std::string& path, T& t) { Read(x, path, t, err_); }
  std::string Sub(std::string_view n) const {
    if (n.empty()) return path_;
    return path_.empty() ? std::string(n) : path_ + "." + std::string(n);
  }
  const Json* Get(std::string_view n) {
    if (Failed()) return nullptr;
    auto it = j_.find(std::string(n));
    if (it == j_.end()) {
      SetError(n, "missing");
      return nullptr;
    }
    seen_.insert(std::string(n));
    return &*it;
  }

  const Json& j_;
  std::string path_;
  std::optional<Error>* err_;
  std::set<std::string> seen_;
};

template <class R>
Json RecordJson(const R& r) {
  Json j = Json::object();
  j["type"] = RecordTypeName(static_cast<uint64_t>(R::kType));
  j["version"] = R::kVersion;
  JsonOutVisitor v(j);
  const_cast<R&>(r).Fields(v);  // JsonOutVisitor never writes to the fields
  return j;
}

template <class R>
Result<AnyRecord> RecordFromJson(const Json& j, std::initializer_list<std::string_view> derived) {
  std::optional<Error> err;
  JsonInVisitor v(j, "", &err);
  uint64_t version = 0;
  v.Uint("version", version);
  if (!err && version != R::kVersion)
    v.SetError("version", "unknown version " + std::to_string(version) + " of " +
                              std::string(RecordTypeName(static_cast<uint64_t>(R::kType))) +
                              " (this build reads version " + std::to_string(R::kVersion) + ")");
  R r;
  if (!err) r.Fields(v);
  v.CheckUnknown(derived);
  if (err) return std::unexpected(*err);
  GTOS_TRY(r.Validate());
  return AnyRecord(std::move(r));
}

}  // namespace

Json ToJson(const AnyRecord& rec, const JsonOptions& opts) {
  return std::visit(
      [&opts](const auto& r) -> Json {
        using R = std::decay_t<decltype(r)>;
        Json j = RecordJson(r);
        if constexpr (std::is_same_v<R, UnsignedTx>) {
          j["id"] = ToHex0x(r.tx.Id());
        } else if constexpr (std::is_same_v<R, SignedTx>) {
          j["id"] = ToHex0x(r.tx.Id());
        } else if constexpr (std::is_same_v<R, PrivateKey>) {
          j["address"] = ToHex0x(r.address());
          if (!r.encrypted() && !opts.show_secrets) j["secret"] = kRedacted;
        } else if constexpr (std::is_same_v<R, PublicKey> || std::is_same_v<R, GenesisValidator>) {
          j["address"] = ToHex0x(r.address());
        } else if constexpr (std::is_same_v<R, BlockHeader>) {
          j["hash"] = ToHex0x(r.Hash());
        } else if constexpr (std::is_same_v<R, Block>) {
          j["hash"] = ToHex0x(r.header.Hash());
        } else if constexpr (std::is_same_v<R, Genesis>) {
          j["hash"] = ToHex0x(r.Hash());
        } else if constexpr (std::is_same_v<R, snapshot::Manifest>) {
          j["hash"] = ToHex0x(r.Hash());
        } else if constexpr (std::is_same_v<R, UpgradePlanRecord>) {
          j["digest"] = ToHex0x(r.plan.SigningDigest());
        }
        return j;
      },
      rec);
}

Result<AnyRecord> FromJson(const Json& j) {
  if (!j.is_object()) return Invalid("expected a JSON object");
  auto t = j.find("type");
  if (t == j.end() || !t->is_string()) return Invalid("field 'type': missing or not a string");
  const std::string& type = t->get_ref<const std::string&>();
  if (type == "private_key") return RecordFromJson<PrivateKey>(j, {"type", "address"});
  if (type == "public_key") return RecordFromJson<PublicKey>(j, {"type", "address"});
  if (type == "unsigned_tx") return RecordFromJson<UnsignedTx>(j, {"type", "id"});
  if (type == "signed_tx") return RecordFromJson<SignedTx>(j, {"type", "id"});
  if (type == "receipt") return RecordFromJson<Receipt>(j, {"type"});
  if (type == "block_header") return RecordFromJson<BlockHeader>(j, {"type", "hash"});
  if (type == "block") return RecordFromJson<Block>(j, {"type", "hash"});
  if (type == "genesis") return RecordFromJson<Genesis>(j, {"type", "hash"});
  if (type == "genesis_validator") return RecordFromJson<GenesisValidator>(j, {"type", "address"});
  if (type == "snapshot_manifest") return RecordFromJson<snapshot::Manifest>(j, {"type", "hash"});
  if (type == "snapshot_chunk") return RecordFromJson<snapshot::Chunk>(j, {"type"});
  if (type == "upgrade_plan") return RecordFromJson<UpgradePlanRecord>(j, {"type", "digest"});
  return Invalid("field 'type': unknown or unsupported record type '" + type + "'");
}

Result<AnyRecord> FromJsonText(std::string_view text) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    // parse_error, and out_of_range for a number too large for a double
    // ("1e999"), which escaped as an uncaught exception (fuzz_json_record).
    return Invalid(std::string("invalid JSON: ") + e.what());
  }
  return FromJson(j);
}

}  // namespace gtos
