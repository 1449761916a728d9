//! Test helpers for the files API: multipart bodies, zip archives, raw requests.

use std::io::{Cursor, Write};

use reqwest::header::{CONTENT_TYPE, COOKIE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use zip::write::SimpleFileOptions;

use crate::helpers::{read, Reply, TestApp};

/// The boundary of every multipart body built here.
pub const BOUNDARY: &str = "roster-test-boundary-7MA4YWxkTrZu0gW";

/// A `multipart/form-data` body: (field name, file name, bytes) per part.
pub fn multipart(parts: &[(&str, &str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (field, file, bytes) in parts {
        write!(
            body,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"{file}\"\r\n\
             Content-Type: application/octet-stream\r\n\r\n"
        )
        .unwrap();
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{BOUNDARY}--\r\n").unwrap();
    body
}

/// A zip of (name, bytes) entries, deflated; a name ending in `/` is a folder.
pub fn zip(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in entries {
        if let Some(folder) = name.strip_suffix('/') {
            writer.add_directory(folder, options).unwrap();
        } else {
            writer.start_file(*name, options).unwrap();
            writer.write_all(bytes).unwrap();
        }
    }
    writer.finish().unwrap().into_inner()
}

/// A zip holding a symbolic link `name` → `target`.
pub fn zip_with_link(name: &str, target: &str) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(Cursor::new(Vec::new()));
    writer
        .add_symlink(name, target, SimpleFileOptions::default())
        .unwrap();
    writer.finish().unwrap().into_inner()
}

impl TestApp {
    /// `POST` a multipart body of `parts` to `path` with the session `token`.
    pub async fn upload(&self, path: &str, token: &str, parts: &[(&str, &str, &[u8])]) -> Reply {
        let response = self
            .client
            .post(self.url(path))
            .header(
                CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .header(COOKIE, format!("session_token={token}"))
            .body(multipart(parts))
            .send()
            .await
            .expect("the server answers");
        read(response).await
    }

    /// `DELETE` with the session `token`.
    pub async fn delete(&self, path: &str, token: &str) -> Reply {
        let response = self
            .client
            .delete(self.url(path))
            .header(COOKIE, format!("session_token={token}"))
            .send()
            .await
            .expect("the server answers");
        read(response).await
    }

    /// A request sent byte for byte (no client normalises its path): status and body.
    pub async fn raw(&self, method: &str, path: &str, token: &str) -> (u16, String) {
        let mut stream = tokio::net::TcpStream::connect(self.addr).await.unwrap();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nCookie: session_token={token}\r\n\
             Content-Length: 0\r\nConnection: close\r\n\r\n"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut reply = Vec::new();
        stream.read_to_end(&mut reply).await.unwrap();
        let reply = String::from_utf8_lossy(&reply).into_owned();
        let status = reply[9..12].parse().unwrap();
        let body = reply.split_once("\r\n\r\n").unwrap().1.to_owned();
        (status, body)
    }
}
