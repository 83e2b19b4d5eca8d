// The lifecycle every analysis-view GUI test repeated, as inherited Qt Test slots: settings isolated per
// test program (organisation "AttnScopeTest", application "AttnScope" + the test class's name, e.g.
// AttnScopeTestTokensView), a fresh shown main window per test function (windowSize(), when overridden),
// closed after it. A test class derives from ViewTest instead of AnalysisGuiTest and declares only its
// test functions; one that needs more setup defines its own initTestCase / init (Qt Test calls the most
// derived one) and calls ViewTest's.
#pragma once

#include "tests/support/analysis_gui_test.h"

#include <QObject>
#include <QSize>

namespace attnscope::testing {

class ViewTest : public AnalysisGuiTest {
    Q_OBJECT

protected:
    virtual QSize windowSize() const { return {}; } // empty: the main window's own default size

protected slots:
    void initTestCase();
    void init();
    void cleanup();
};

} // namespace attnscope::testing
