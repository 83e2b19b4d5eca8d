// Build-time tool: renders resources/icons/attnscope.svg to the hicolor PNG sizes.
//   render_icon SVG OUTDIR SIZE...   → OUTDIR/SIZExSIZE/apps/attnscope.png
#include <QDir>
#include <QGuiApplication>
#include <QImage>
#include <QPainter>
#include <QSvgRenderer>

#include <cstdio>

int main(int argc, char** argv) {
    qputenv("QT_QPA_PLATFORM", "offscreen"); // no display at build time
    QGuiApplication app(argc, argv);
    if (argc < 4) {
        std::fprintf(stderr, "usage: render_icon SVG OUTDIR SIZE...\n");
        return 2;
    }
    QSvgRenderer svg(QString::fromLocal8Bit(argv[1]));
    if (!svg.isValid()) {
        std::fprintf(stderr, "render_icon: %s: not a valid SVG\n", argv[1]);
        return 1;
    }
    for (int i = 3; i < argc; ++i) {
        const int n = QString(argv[i]).toInt();
        QImage img(n, n, QImage::Format_ARGB32_Premultiplied);
        img.fill(Qt::transparent);
        QPainter p(&img);
        p.setRenderHint(QPainter::Antialiasing);
        svg.render(&p);
        p.end();
        const QString dir = QString("%1/%2x%2/apps").arg(QString::fromLocal8Bit(argv[2])).arg(n);
        if (!QDir().mkpath(dir) || !img.save(dir + "/attnscope.png")) {
            std::fprintf(stderr, "render_icon: cannot write %s/attnscope.png\n", qPrintable(dir));
            return 1;
        }
    }
    return 0;
}
