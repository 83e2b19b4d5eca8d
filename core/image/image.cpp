#include "core/image/image.h"

#include "core/error.h"

namespace attnscope {

Resample resample_from_pil(int pil_code) {
    switch (pil_code) {
    case 0: return Resample::Nearest;
    case 1: return Resample::Lanczos;
    case 2: return Resample::Bilinear;
    case 3: return Resample::Bicubic;
    case 4: return Resample::Box;
    case 5: return Resample::Hamming;
    }
    throw Error(ErrorKind::Unsupported, "", "resample",
                "unknown PIL resampling code " + std::to_string(pil_code) + " (expected 0..5)");
}

Resample resample_from_name(const std::string& name) {
    for (Resample r : {Resample::Nearest, Resample::Box, Resample::Bilinear, Resample::Hamming, Resample::Bicubic,
                       Resample::Lanczos})
        if (name == resample_name(r)) return r;
    if (name == "antialias") return Resample::Lanczos; // PIL's old alias
    throw Error(ErrorKind::Unsupported, "", "interpolation", "unknown resampling filter '" + name + "'");
}

const char* resample_name(Resample r) {
    switch (r) {
    case Resample::Nearest: return "nearest";
    case Resample::Box: return "box";
    case Resample::Bilinear: return "bilinear";
    case Resample::Hamming: return "hamming";
    case Resample::Bicubic: return "bicubic";
    case Resample::Lanczos: return "lanczos";
    }
    return "?";
}

} // namespace attnscope
