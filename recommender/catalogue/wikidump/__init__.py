"""Parsing raw Wikipedia `pages-articles` dumps (XML, bz2) into the ndjson `import_books` reads.

streams.py decompresses a bz2 file in chunks, reader.py splits the chunks into pages in constant memory and
parses with expat only those whose raw bytes may hold the infobox (books.raw_marks), books.py finds the
`Infobox book` pages among them and turns each into an ndjson row, files.py parses one dump file into one
ndjson file (resumable, never a partial file under the final name), parallel.py runs many files over several
processes with a progress bar each.
"""
