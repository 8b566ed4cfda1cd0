// Package imaging checks, cleans and previews the files that people attach
// to messages.
//
//   - Sniff and Inline decide from a file's first bytes what it is and
//     whether a browser may show it inline (PNG, JPEG, GIF and WebP only;
//     never SVG, which can carry script).
//   - StripMetadata removes, while streaming, the metadata of inline
//     images that can tell where and when a photo was taken or by whom
//     (Exif with its GPS tags, XMP, comments, text chunks).
//   - Inspect and Thumbnail read an image's size from its header and refuse
//     one larger than Limits.MaxPixels before decoding any pixel (a
//     decompression bomb claims a huge size in a tiny file), and make a
//     small JPEG or PNG preview.
//
// Refusals a user should see are *chat.Error with code chat.EINVALID or
// chat.ETOOLARGE and a message that says what is wrong; an error of the
// caller's reader is returned as it is.
//
// # Libraries
//
// PNG, JPEG and GIF are decoded by the standard library, WebP by
// golang.org/x/image/webp (lossy and lossless still images; animated WebP
// is not decoded and has no thumbnail). Thumbnails are scaled with
// github.com/disintegration/imaging (Catmull-Rom kernel), chosen over
// golang.org/x/image/draw's Catmull-Rom by BenchmarkScale: scaling a
// 4000×3000 YCbCr photo to 400×300 on a quiet 2-core machine took 75 ms
// (160 ms on one core) and 5.9 MB with disintegration/imaging, against
// 277 ms and 39 MB with x/image/draw, which keeps a float64 copy of the
// image at the destination width and the source height (about 70 MB for a
// 40-megapixel 4:3 photo). Under load the times vary but the ratio stays
// 2.5 to 4, and the memory is the same every run. Memory per upload
// matters most here: uploads come in bursts, and the decoded image
// already takes 1.5 to 8 bytes a pixel. disintegration/imaging has had no release since v1.6.2
// (2019), but it is small, has no dependency beyond golang.org/x/image,
// and only its arithmetic (Resize, the flips and quarter turns) is used:
// no file is decoded by it. To measure again:
//
//	go test -run '^$' -bench Scale -benchtime 10x -cpu 1,2 ./internal/imaging/
package imaging
