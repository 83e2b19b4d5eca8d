#include "core/io/pickle.h"

#include "core/error.h"
#include "core/limits.h"

#include <algorithm>
#include <cstring>
#include <unordered_map>
#include <unordered_set>

namespace attnscope::pickle {

namespace {

constexpr int kMaxDepth = 256;          // nesting of containers
constexpr size_t kMaxStack = 1u << 22;  // values on the stack
constexpr size_t kMaxMemo = 1u << 24;
constexpr size_t kMaxPushes = 1u << 24; // values pushed in all (a state dict's pickle needs thousands)
constexpr size_t kPushesPerMemoryCheck = 1u << 20;

using Kind = Value::Kind;

Ref make(Kind k) {
    auto v = std::make_shared<Value>();
    v->kind = k;
    return v;
}
Ref make_int(int64_t i) {
    Ref v = make(Kind::Int);
    v->i = i;
    return v;
}
Ref make_str(Kind k, std::string s) {
    Ref v = make(k);
    v->s = std::move(s);
    return v;
}

// Modules whose callables mean code execution: a file that calls one is refused outright.
bool dangerous_module(const std::string& module) {
    static const char* bad[] = {"os", "posix", "nt", "subprocess", "builtins", "__builtin__", "sys", "shutil",
                                "importlib", "runpy", "pty", "socket", "pickle", "_pickle", "marshal", "ctypes",
                                "code", "commands", "webbrowser", "pdb", "functools", "operator", "types"};
    const std::string root = module.substr(0, module.find('.'));
    return std::find_if(std::begin(bad), std::end(bad), [&](const char* b) { return root == b; }) != std::end(bad);
}

class Machine {
public:
    Machine(const uint8_t* d, size_t n, size_t& pos, std::string where, PersistentLoad pl, void* ctx)
        : d_(d), n_(n), pos_(pos), where_(std::move(where)), pl_(pl), ctx_(ctx) {}
    // A container that contains itself (APPEND/SETITEM of an ancestor, e.g. via the memo) would leak
    // (shared_ptr cycle) and send consumers walking forever: unless run() finished without one, every
    // container that was mutated is emptied here, which breaks all cycles.
    ~Machine() {
        if (!acyclic_)
            for (const Ref& c : mutated_) {
                c->items.clear();
                c->dict.clear();
            }
    }
    Ref run();

private:
    [[noreturn]] void fail(const std::string& what) const {
        throw Error(ErrorKind::Format, where_, "pickle offset " + std::to_string(pos_), what);
    }
    const uint8_t* take(size_t k) {
        if (k > n_ - pos_) fail("truncated pickle");
        const uint8_t* p = d_ + pos_;
        pos_ += k;
        return p;
    }
    template <typename T> T le() {
        T v;
        std::memcpy(&v, take(sizeof(T)), sizeof(T));
        return v;
    }
    std::string line() {
        const uint8_t* start = d_ + pos_;
        const void* nl = std::memchr(start, '\n', n_ - pos_);
        if (!nl) fail("unterminated text argument");
        const size_t len = static_cast<const uint8_t*>(nl) - start;
        pos_ += len + 1;
        return std::string(reinterpret_cast<const char*>(start), len);
    }
    void push(Ref v) {
        if (stack_.size() >= kMaxStack) fail("pickle stack too deep");
        if (++pushes_ > kMaxPushes) fail("pickle builds more than " + std::to_string(kMaxPushes) + " objects; not a state dict");
        if (pushes_ % kPushesPerMemoryCheck == 0)
            require_memory(kPushesPerMemoryCheck * (sizeof(Value) + 64), where_, "pickle", "unpickling another million objects");
        stack_.push_back(std::move(v));
    }
    void mutated(const Ref& container) {
        if (mutated_set_.insert(container.get()).second) mutated_.push_back(container);
    }
    // True when some container reaches itself; iterative DFS from every mutated container.
    bool has_cycle() const {
        enum : char { Open = 1, Done = 2 };
        std::unordered_map<const Value*, char> state;
        for (const Ref& start : mutated_) {
            if (state.count(start.get())) continue;
            std::vector<std::pair<const Value*, size_t>> path{{start.get(), 0}}; // node, next child
            state[start.get()] = Open;
            while (!path.empty()) {
                auto& [v, next] = path.back();
                const size_t n_items = v->items.size(), n_children = n_items + 2 * v->dict.size();
                if (next == n_children) {
                    state[v] = Done;
                    path.pop_back();
                    continue;
                }
                const size_t i = next++;
                const Value* c = i < n_items ? v->items[i].get()
                                             : ((i - n_items) % 2 ? v->dict[(i - n_items) / 2].second : v->dict[(i - n_items) / 2].first).get();
                auto [it, fresh] = state.emplace(c, Open);
                if (fresh) path.emplace_back(c, 0);
                else if (it->second == Open) return true;
            }
        }
        return false;
    }
    Ref pop() {
        if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
        Ref v = stack_.back();
        stack_.pop_back();
        return v;
    }
    Ref& top() {
        if (stack_.size() <= (marks_.empty() ? 0 : marks_.back())) fail("stack underflow");
        return stack_.back();
    }
    std::vector<Ref> pop_mark() {
        if (marks_.empty()) fail("no MARK on the stack");
        const size_t m = marks_.back();
        marks_.pop_back();
        std::vector<Ref> items(stack_.begin() + static_cast<long>(m), stack_.end());
        stack_.resize(m);
        return items;
    }
    Ref container(Kind k, std::vector<Ref> items) {
        Ref v = make(k);
        int depth = 0;
        for (const Ref& it : items) depth = std::max(depth, it->depth);
        v->depth = depth + 1;
        if (v->depth > kMaxDepth) fail("objects nested too deeply");
        v->items = std::move(items);
        return v;
    }
    void grow(Value& parent, const Ref& child) {
        parent.depth = std::max(parent.depth, child->depth + 1);
        if (parent.depth > kMaxDepth) fail("objects nested too deeply");
    }
    void set_items(const Ref& dict, std::vector<Ref>& kv) {
        if (kv.size() % 2) fail("odd number of items for SETITEMS");
        if (dict->kind != Kind::Dict) return; // e.g. an opaque object's state: ignore
        mutated(dict);
        for (size_t i = 0; i < kv.size(); i += 2) {
            grow(*dict, kv[i + 1]);
            dict->dict.emplace_back(kv[i], kv[i + 1]);
        }
    }
    void memo_put(uint32_t idx, const Ref& v) {
        if (memo_.size() >= kMaxMemo && !memo_.count(idx)) fail("memo too large");
        memo_[idx] = v;
    }
    Ref memo_get(uint32_t idx) {
        auto it = memo_.find(idx);
        if (it == memo_.end()) fail("memo index " + std::to_string(idx) + " not set");
        return it->second;
    }
    Ref global(const std::string& module, const std::string& name) {
        // the renames Python's own unpickler applies (fix_imports) so messages use today's names
        static const std::pair<const char*, const char*> renames[] = {
            {"torch.tensor", "torch._tensor"}, {"__builtin__", "builtins"}, {"commands", "subprocess"}, {"copy_reg", "copyreg"}};
        std::string mod = module;
        for (const auto& [from, to] : renames)
            if (module == from) mod = to;
        return make_str(Kind::Global, mod + "." + name);
    }
    Ref call(const Ref& fn, const Ref& args);
    Ref rebuild_tensor(const std::vector<Ref>& a, bool v3);

    const uint8_t* d_;
    size_t n_;
    size_t& pos_;
    std::string where_;
    PersistentLoad pl_;
    void* ctx_;
    std::vector<Ref> stack_;
    std::vector<size_t> marks_;
    std::unordered_map<uint32_t, Ref> memo_;
    size_t pushes_ = 0;
    std::vector<Ref> mutated_;                      // lists/dicts that APPEND/SETITEM(S) changed
    std::unordered_set<const Value*> mutated_set_;
    bool acyclic_ = false;
};

Shape int_tuple(const Ref& v, const std::string& what, const std::string& where) {
    if (v->kind != Kind::Tuple && v->kind != Kind::List)
        throw Error(ErrorKind::Format, where, what, "expected a tuple of ints, got " + describe(*v));
    Shape out;
    for (const Ref& it : v->items) {
        if (it->kind != Kind::Int || it->i < 0) throw Error(ErrorKind::Format, where, what, "expected non-negative ints");
        out.push_back(it->i);
    }
    return out;
}

Ref Machine::rebuild_tensor(const std::vector<Ref>& a, bool v3) {
    if (a.size() < (v3 ? 7u : 4u)) fail("_rebuild_tensor: too few arguments");
    if (a[0]->kind != Kind::Storage)
        throw Error(ErrorKind::Unsupported, where_, "tensor", "storage comes from " + describe(*a[0]) + ", which is not a torch storage");
    if (a[1]->kind != Kind::Int || a[1]->i < 0) fail("_rebuild_tensor: bad storage offset");
    Ref t = make(Kind::Tensor);
    t->tensor.storage = a[0]->storage;
    t->tensor.offset = a[1]->i;
    t->tensor.size = int_tuple(a[2], "tensor size", where_);
    t->tensor.stride = int_tuple(a[3], "tensor stride", where_);
    if (t->tensor.size.size() != t->tensor.stride.size()) fail("_rebuild_tensor: size and stride ranks differ");
    if (v3) {
        DType dt;
        if (a[6]->kind != Kind::Global || !storage_dtype(a[6]->s, dt)) fail("_rebuild_tensor_v3: unsupported dtype " + describe(*a[6]));
        if (t->tensor.storage.numel > INT64_MAX / 8) fail("_rebuild_tensor_v3: storage element count too large");
        const int64_t bytes = t->tensor.storage.numel * dtype_size(t->tensor.storage.dtype);
        t->tensor.storage.dtype = dt;
        t->tensor.storage.numel = bytes / dtype_size(dt);
    }
    return t;
}

Ref Machine::call(const Ref& fn, const Ref& args) {
    if (fn->kind != Kind::Global) return make_str(Kind::Opaque, "call of " + describe(*fn));
    const std::string& name = fn->s;
    const std::vector<Ref> a = args->kind == Kind::Tuple ? args->items : std::vector<Ref>{};
    if (name == "collections.OrderedDict" || name == "builtins.dict") {
        if (name == "builtins.dict" && !a.empty()) return make_str(Kind::Opaque, name);
        return make(Kind::Dict);
    }
    if (name == "torch._utils._rebuild_tensor_v2") return rebuild_tensor(a, false);
    if (name == "torch._utils._rebuild_tensor_v3") return rebuild_tensor(a, true);
    if (name == "torch._utils._rebuild_parameter" || name == "torch._utils._rebuild_parameter_with_state") {
        if (a.empty()) fail(name + ": no arguments");
        return a[0];
    }
    if (name == "torch._tensor._rebuild_from_type_v2") {
        if (a.size() < 3) fail(name + ": too few arguments");
        return call(a[0], a[2]);
    }
    if (name == "torch.Size") return a.empty() ? container(Kind::Tuple, {}) : a[0];
    if (name == "torch.device") return a.empty() ? make_str(Kind::Str, "cpu") : a[0];
    if (name == "_codecs.encode") {
        if (a.empty() || a[0]->kind != Kind::Str) fail("_codecs.encode: expected a string");
        // protocol 2 writes bytes as encode(latin-1 text, "latin1"): decode UTF-8 back to bytes
        std::string out;
        const std::string& s = a[0]->s;
        for (size_t i = 0; i < s.size(); ++i) {
            const auto c = static_cast<unsigned char>(s[i]);
            if (c < 0x80) out.push_back(static_cast<char>(c));
            else if ((c & 0xE0) == 0xC0 && i + 1 < s.size()) {
                out.push_back(static_cast<char>(((c & 0x1F) << 6) | (static_cast<unsigned char>(s[i + 1]) & 0x3F)));
                ++i;
            } else fail("_codecs.encode: not latin-1 text");
        }
        return make_str(Kind::Bytes, out);
    }
    const std::string module = name.substr(0, name.rfind('.'));
    if (dangerous_module(module))
        throw Error(ErrorKind::Unsupported, where_, name,
                    "refusing to load: the pickle calls " + name + " (code execution); nothing was run");
    return make_str(Kind::Opaque, name);
}

Ref Machine::run() {
    while (true) {
        const uint8_t op = *take(1);
        switch (op) {
        case 0x80: take(1); break;                         // PROTO
        case 0x95: take(8); break;                         // FRAME (we read the stream flat)
        case '.': {                                        // STOP
            Ref v = pop();
            if (has_cycle()) fail("an object contains itself (self-referencing containers are not a state dict)");
            acyclic_ = true;
            return v;
        }
        case '(': marks_.push_back(stack_.size()); break;  // MARK
        case '0': pop(); break;                            // POP
        case '1': pop_mark(); break;                       // POP_MARK
        case '2': push(top()); break;                      // DUP
        case '}': push(make(Kind::Dict)); break;           // EMPTY_DICT
        case ']': push(make(Kind::List)); break;           // EMPTY_LIST
        case ')': push(container(Kind::Tuple, {})); break; // EMPTY_TUPLE
        case 0x8F: push(make(Kind::List)); break;          // EMPTY_SET (as a list)
        case 't': push(container(Kind::Tuple, pop_mark())); break;
        case 'l': push(container(Kind::List, pop_mark())); break;
        case 'd': {                                        // DICT
            std::vector<Ref> kv = pop_mark();
            Ref dict = make(Kind::Dict);
            set_items(dict, kv);
            push(dict);
            break;
        }
        case 0x85: case 0x86: case 0x87: {                 // TUPLE1/2/3
            const size_t k = op - 0x84u;
            std::vector<Ref> items(k);
            for (size_t i = k; i-- > 0;) items[i] = pop();
            push(container(Kind::Tuple, std::move(items)));
            break;
        }
        case 'N': push(make(Kind::None)); break;
        case 0x88: case 0x89: {
            Ref b = make(Kind::Bool);
            b->i = op == 0x88;
            push(b);
            break;
        }
        case 'J': push(make_int(le<int32_t>())); break;
        case 'K': push(make_int(*take(1))); break;
        case 'M': push(make_int(le<uint16_t>())); break;
        case 0x8A: {                                       // LONG1
            const uint8_t k = *take(1);
            const uint8_t* p = take(k);
            if (k > 8) { push(make_str(Kind::Opaque, "big integer")); break; }
            uint64_t v = 0;
            for (int i = k - 1; i >= 0; --i) v = (v << 8) | p[i];
            if (k > 0 && k < 8 && (p[k - 1] & 0x80)) v |= ~uint64_t(0) << (8 * k); // sign-extend
            push(make_int(static_cast<int64_t>(v)));
            break;
        }
        case 'I': case 'L': {                              // INT / LONG (text)
            std::string s = line();
            if (!s.empty() && s.back() == 'L') s.pop_back();
            if (s == "01" || s == "00") { Ref b = make(Kind::Bool); b->i = s == "01"; push(b); break; }
            try { push(make_int(std::stoll(s))); } catch (...) { fail("bad integer literal"); }
            break;
        }
        case 'G': {                                        // BINFLOAT (big-endian)
            uint64_t bits = 0;
            const uint8_t* p = take(8);
            for (int i = 0; i < 8; ++i) bits = (bits << 8) | p[i];
            Ref f = make(Kind::Float);
            std::memcpy(&f->f, &bits, 8);
            push(f);
            break;
        }
        case 'X': { const uint32_t k = le<uint32_t>(); push(make_str(Kind::Str, std::string(reinterpret_cast<const char*>(take(k)), k))); break; }
        case 0x8C: { const uint8_t k = *take(1); push(make_str(Kind::Str, std::string(reinterpret_cast<const char*>(take(k)), k))); break; }
        case 0x8D: { const uint64_t k = le<uint64_t>(); if (k > n_) fail("string too long"); push(make_str(Kind::Str, std::string(reinterpret_cast<const char*>(take(k)), k))); break; }
        case 'U': { const uint8_t k = *take(1); push(make_str(Kind::Str, std::string(reinterpret_cast<const char*>(take(k)), k))); break; }
        case 'T': { const uint32_t k = le<uint32_t>(); push(make_str(Kind::Str, std::string(reinterpret_cast<const char*>(take(k)), k))); break; }
        case 'C': { const uint8_t k = *take(1); push(make_str(Kind::Bytes, std::string(reinterpret_cast<const char*>(take(k)), k))); break; }
        case 'B': { const uint32_t k = le<uint32_t>(); push(make_str(Kind::Bytes, std::string(reinterpret_cast<const char*>(take(k)), k))); break; }
        case 'c': {                                        // GLOBAL
            const std::string module = line();
            push(global(module, line()));
            break;
        }
        case 0x93: {                                       // STACK_GLOBAL
            Ref name = pop(), module = pop();
            if (name->kind != Kind::Str || module->kind != Kind::Str) fail("STACK_GLOBAL needs two strings");
            push(global(module->s, name->s));
            break;
        }
        case 'R': {                                        // REDUCE
            Ref args = pop();
            Ref fn = pop();
            push(call(fn, args));
            break;
        }
        case 0x81: {                                       // NEWOBJ: cls.__new__(cls, *args)
            Ref args = pop();
            Ref cls = pop();
            if (cls->kind == Kind::Global && dangerous_module(cls->s.substr(0, cls->s.rfind('.'))))
                throw Error(ErrorKind::Unsupported, where_, cls->s, "refusing to load: the pickle instantiates " + cls->s + "; nothing was run");
            push(cls->kind == Kind::Global && cls->s == "collections.OrderedDict" ? make(Kind::Dict) : make_str(Kind::Opaque, describe(*cls)));
            break;
        }
        case 'b': pop(); break;                            // BUILD: state ignored (dict _metadata, objects)
        case 's': {                                        // SETITEM
            Ref v = pop(), k = pop();
            std::vector<Ref> kv{k, v};
            set_items(top(), kv);
            break;
        }
        case 'u': {                                        // SETITEMS
            std::vector<Ref> kv = pop_mark();
            set_items(top(), kv);
            break;
        }
        case 'a': {                                        // APPEND
            Ref v = pop();
            Ref& list = top();
            if (list->kind == Kind::List) { grow(*list, v); list->items.push_back(v); mutated(list); }
            break;
        }
        case 'e': {                                        // APPENDS
            std::vector<Ref> vs = pop_mark();
            Ref& list = top();
            if (list->kind == Kind::List) {
                mutated(list);
                for (Ref& v : vs) { grow(*list, v); list->items.push_back(v); }
            }
            break;
        }
        case 0x90: { std::vector<Ref> vs = pop_mark(); top(); break; } // ADDITEMS (sets: ignored)
        case 'q': memo_put(*take(1), top()); break;        // BINPUT
        case 'r': memo_put(le<uint32_t>(), top()); break;  // LONG_BINPUT
        case 0x94: memo_put(static_cast<uint32_t>(memo_.size()), top()); break; // MEMOIZE
        case 'h': push(memo_get(*take(1))); break;         // BINGET
        case 'j': push(memo_get(le<uint32_t>())); break;   // LONG_BINGET
        case 'Q': {                                        // BINPERSID
            Ref pid = pop();
            push(pl_(pid, ctx_));
            break;
        }
        default: {
            char buf[8];
            std::snprintf(buf, sizeof buf, "0x%02x", op);
            fail(std::string("unsupported pickle opcode ") + buf);
        }
        }
    }
}

} // namespace

bool storage_dtype(const std::string& name, DType& out) {
    static const std::pair<const char*, DType> table[] = {
        {"torch.FloatStorage", DType::F32}, {"torch.DoubleStorage", DType::F64}, {"torch.HalfStorage", DType::F16},
        {"torch.BFloat16Storage", DType::BF16}, {"torch.LongStorage", DType::I64}, {"torch.IntStorage", DType::I32},
        {"torch.ShortStorage", DType::I16}, {"torch.CharStorage", DType::I8}, {"torch.ByteStorage", DType::U8},
        {"torch.BoolStorage", DType::BOOL}, {"torch.UntypedStorage", DType::U8}, {"torch.float32", DType::F32},
        {"torch.float64", DType::F64}, {"torch.float16", DType::F16}, {"torch.bfloat16", DType::BF16},
        {"torch.int64", DType::I64}, {"torch.int32", DType::I32}, {"torch.int16", DType::I16}, {"torch.int8", DType::I8},
        {"torch.uint8", DType::U8}, {"torch.bool", DType::BOOL}};
    for (const auto& [n, t] : table)
        if (name == n) {
            out = t;
            return true;
        }
    return false;
}

std::string describe(const Value& v) {
    switch (v.kind) {
    case Kind::None: return "None";
    case Kind::Bool: return v.i ? "True" : "False";
    case Kind::Int: return std::to_string(v.i);
    case Kind::Float: return std::to_string(v.f);
    case Kind::Str: return "'" + v.s.substr(0, 40) + "'";
    case Kind::Bytes: return "bytes[" + std::to_string(v.s.size()) + "]";
    case Kind::Tuple: return "tuple[" + std::to_string(v.items.size()) + "]";
    case Kind::List: return "list[" + std::to_string(v.items.size()) + "]";
    case Kind::Dict: return "dict[" + std::to_string(v.dict.size()) + "]";
    case Kind::Global: return "global " + v.s;
    case Kind::Storage: return "storage '" + v.storage.key + "'";
    case Kind::Tensor: return "tensor " + shape_str(v.tensor.size);
    case Kind::Opaque: return "opaque object (" + v.s + ")";
    }
    return "?";
}

Ref unpickle(const uint8_t* data, size_t size, size_t& pos, const std::string& where, PersistentLoad persistent, void* ctx) {
    Machine m(data, size, pos, where, persistent, ctx);
    return m.run();
}

} // namespace attnscope::pickle
