// See view_test.h.
#include "tests/support/view_test.h"

namespace attnscope::testing {

void ViewTest::initTestCase() {
    const QByteArray app = QByteArray("AttnScope") + metaObject()->className();
    QVERIFY(setUpTestCase("AttnScopeTest", app.constData()));
}

void ViewTest::init() { newWindow(windowSize()); }

void ViewTest::cleanup() { w_.reset(); }

} // namespace attnscope::testing
