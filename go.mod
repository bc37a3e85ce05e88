module latentstudio

go 1.26
