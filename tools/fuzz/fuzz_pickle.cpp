// The restricted unpickler on its own: a stream of pickles (as in the legacy format) run through
// pickle::unpickle with torch.save's persistent-id handler; every result is walked and described.
#include "fuzz_common.h"

#include "core/io/pickle.h"
#include "core/io/pth.h"

#include <unordered_set>
#include <vector>

ATTNSCOPE_FUZZ_INIT()

using attnscope::pickle::Ref;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    expect_clean([&] {
        const std::string where = "fuzz.pkl";
        size_t pos = 0;
        while (pos < size) {
            const Ref root = attnscope::pickle::unpickle(data, size, pos, where, attnscope::pth_persistent_load,
                                                          const_cast<std::string*>(&where));
            // walk what came back (each value once) as a consumer would
            std::vector<const attnscope::pickle::Value*> todo{root.get()};
            std::unordered_set<const attnscope::pickle::Value*> seen{root.get()};
            while (!todo.empty()) {
                const attnscope::pickle::Value* v = todo.back();
                todo.pop_back();
                (void)attnscope::pickle::describe(*v);
                auto visit = [&](const Ref& c) {
                    if (seen.insert(c.get()).second) todo.push_back(c.get());
                };
                for (const Ref& c : v->items) visit(c);
                for (const auto& [k, x] : v->dict) visit(k), visit(x);
            }
        }
    });
    return 0;
}
