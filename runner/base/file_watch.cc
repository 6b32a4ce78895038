#include "runner/base/file_watch.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <boost/asio/bind_executor.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "runner/base/text.h"
#include "runner/base/unique_fd.h"

namespace asio = boost::asio;

namespace firedrill {

namespace {

// The name coming and going in its directory. Writes are watched on the file itself
// (kFileEvents), not here: in a directory of busy files (a drill's workdir, with a database
// writing beside its log) every write to any of them would wake the loop.
constexpr uint32_t kDirEvents =
    IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_ONLYDIR | IN_EXCL_UNLINK;
constexpr uint32_t kFileEvents =
    IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

// Shared with the handlers that are pending on the loop, so that it outlives the last of
// them whatever order the watch and they end in. The descriptor and the watch numbers are
// touched only on the strand; the callback only under `mu`.
struct FileWatch::Impl : std::enable_shared_from_this<Impl> {
  Impl(asio::io_context& io, std::string p, std::function<void()> cb)
      : strand(asio::make_strand(io)), sd(io), path(std::move(p)), on_change(std::move(cb)) {
    const std::filesystem::path fs(path);
    dir = fs.parent_path().string();
    name = fs.filename().string();
  }

  // The file behind the name now (a new file after a rotation): its writes are what the
  // caller reads. The old file's watch goes, so that an old writer still appending to the
  // rotated file does not wake the reader for nothing.
  void WatchFile() {
    const int wd = ::inotify_add_watch(sd.native_handle(), path.c_str(), kFileEvents);
    if (file_wd >= 0 && wd != file_wd) ::inotify_rm_watch(sd.native_handle(), file_wd);
    file_wd = wd;  // -1: no file yet; the directory watch says when there is one
  }

  void Wait() {
    sd.async_wait(asio::posix::descriptor_base::wait_read,
                  asio::bind_executor(
                      strand, [self = shared_from_this()](const boost::system::error_code& ec) {
                        if (ec) return;  // closed by the destructor
                        if (self->Drain()) self->Notify();
                        self->Wait();
                      }));
  }

  // Reads every event queued; true when one concerns the file.
  bool Drain() {
    bool changed = false;
    while (true) {
      const ssize_t n = ::read(sd.native_handle(), buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;  // EAGAIN: nothing more for now
      for (ssize_t at = 0; at < n;) {
        inotify_event ev;
        std::memcpy(&ev, buf + at, sizeof(ev));
        const char* ev_name = buf + at + sizeof(inotify_event);
        at += static_cast<ssize_t>(sizeof(inotify_event) + ev.len);
        if (ev.mask & IN_Q_OVERFLOW) {
          // Events were lost: the file may have changed in any way; find out.
          WatchFile();
          changed = true;
        } else if (ev.wd == dir_wd) {
          if (ev.mask & IN_IGNORED) {
            dir_wd = -1;  // the directory went: from now on only the file's own events
          } else if (ev.len > 0 && name == ev_name) {
            if (ev.mask & (IN_MOVED_FROM | IN_DELETE)) {
              if (file_wd >= 0) ::inotify_rm_watch(sd.native_handle(), file_wd);
              file_wd = -1;
            } else {
              WatchFile();
            }
            changed = true;
          }
        } else if (ev.wd == file_wd) {
          if (ev.mask & IN_IGNORED) file_wd = -1;
          changed = true;
        }
      }
    }
    return changed;
  }

  void Notify() {
    std::lock_guard<std::mutex> l(mu);
    if (on_change) on_change();
  }

  asio::strand<asio::io_context::executor_type> strand;
  asio::posix::stream_descriptor sd;  // the inotify instance
  std::string path, dir, name;
  int dir_wd = -1;
  int file_wd = -1;
  alignas(inotify_event) char buf[16 * 1024];

  std::mutex mu;                    // held while the callback runs
  std::function<void()> on_change;  // empty once the watch is stopped
};

Result<std::unique_ptr<FileWatch>> FileWatch::Start(EventLoop& loop, const std::string& path,
                                                    std::function<void()> on_change) {
  UniqueFd fd(::inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
  if (!fd.valid()) return Status::Io("inotify: " + ErrnoText(errno));
  auto impl = std::make_shared<Impl>(loop.io(), path, std::move(on_change));
  impl->dir_wd = ::inotify_add_watch(fd.get(), impl->dir.c_str(), kDirEvents);
  if (impl->dir_wd < 0) return Status::Io("watching " + impl->dir + ": " + ErrnoText(errno));
  boost::system::error_code ec;
  impl->sd.assign(fd.get(), ec);
  if (ec) return Status::Io("watching " + path + ": " + ec.message());
  fd.Release();
  // The handlers start on the strand, so that nothing touches the descriptor before the
  // first of them has set up. What was written before the file's watch existed is looked
  // for at once.
  asio::post(impl->strand, [impl] {
    impl->WatchFile();
    impl->Notify();
    impl->Wait();
  });
  return std::unique_ptr<FileWatch>(new FileWatch(std::move(impl)));
}

FileWatch::~FileWatch() {
  {
    // Waits for a callback that is running, and stops any later one.
    std::lock_guard<std::mutex> l(impl_->mu);
    impl_->on_change = nullptr;
  }
  // Closed on the strand, where the handlers use it; the pending wait then ends, and with
  // the last handler the Impl.
  asio::post(impl_->strand, [impl = impl_] {
    boost::system::error_code ignored;
    impl->sd.close(ignored);
  });
}

}  // namespace firedrill
