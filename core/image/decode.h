// TEMPORARY stub until the image module lands.
#pragma once
#include "core/image/image.h"
namespace attnscope {
ImageRGB8 decode_image_file(const std::string& path);
}
