// Runs the attnscope-cli of this build (ATTNSCOPE_CLI; ATTNSCOPE_CLI_UNDER_TEST overrides it) and hands back
// its exit code, stdout and stderr. For the CLI tests (tests/app).
#pragma once

#include "tests/support/tensor_compare.h"

#include <QProcess>
#include <QString>
#include <QStringList>

namespace attnscope::testing {

struct CliOut {
    int code = -1;
    QString out, err;
};

inline CliOut run_cli(const QStringList& args, int timeout_ms = 180000) {
    QProcess p;
    p.start(qEnvironmentVariable("ATTNSCOPE_CLI_UNDER_TEST", ATTNSCOPE_CLI), args);
    p.waitForFinished(timeout_ms);
    return {p.exitCode(), QString::fromUtf8(p.readAllStandardOutput()), QString::fromUtf8(p.readAllStandardError())};
}

// tests/fixtures/<rel> as a command-line argument.
inline QString fixture_arg(const std::string& rel) { return QString::fromStdString(fixture(rel)); }

} // namespace attnscope::testing
